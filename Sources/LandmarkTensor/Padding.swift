/// How a sliding-window operation pads its input, resolved per input size by ``resolve(inputHeight:inputWidth:kernelHeight:kernelWidth:stride:dilation:)``.
public enum Padding: Sendable, Equatable {
    /// Fixed amounts per side, as torch's `padding=` (symmetric) or an explicit `ZeroPad2d`.
    case explicit(top: Int, left: Int, bottom: Int, right: Int)
    /// TensorFlow's "SAME": the output has ceil(input / stride) positions, and the padding needed for
    /// that — max((ceil(in / stride) − 1) · stride + (k − 1) · dilation + 1 − in, 0) — is split with the
    /// odd element on the bottom / right. EfficientNet ports (`Conv2dStaticSamePadding`,
    /// `Conv2dDynamicSamePadding`) pad this way, so the amount depends on the input size.
    case tensorFlowSame

    /// The same amount on every side, torch's `padding=p`.
    public static func symmetric(_ amount: Int) -> Padding {
        .explicit(top: amount, left: amount, bottom: amount, right: amount)
    }

    /// The concrete amounts for one input size.
    public func resolve(inputHeight: Int, inputWidth: Int, kernelHeight: Int, kernelWidth: Int,
                        stride: Int, dilation: Int) -> ResolvedPadding {
        switch self {
        case let .explicit(top, left, bottom, right):
            precondition(top >= 0 && left >= 0 && bottom >= 0 && right >= 0, "padding must not be negative")
            return ResolvedPadding(top: top, left: left, bottom: bottom, right: right)
        case .tensorFlowSame:
            func total(_ input: Int, _ kernel: Int) -> Int {
                let outputs = (input + stride - 1) / stride
                return max((outputs - 1) * stride + (kernel - 1) * dilation + 1 - input, 0)
            }
            let vertical = total(inputHeight, kernelHeight)
            let horizontal = total(inputWidth, kernelWidth)
            return ResolvedPadding(top: vertical / 2, left: horizontal / 2,
                                   bottom: vertical - vertical / 2, right: horizontal - horizontal / 2)
        }
    }
}

/// Padding amounts for one input size.
public struct ResolvedPadding: Sendable, Equatable {
    public var top: Int, left: Int, bottom: Int, right: Int

    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }
}

/// The element-wise non-linearity fused into a convolution's output pass.
public enum Activation: Sendable, Equatable {
    case identity
    /// max(x, 0).
    case relu
    /// min(max(x, 0), 6), MobileNet / EfficientNet-Lite's activation.
    case relu6
}

/// Applies `activation` to every element in place.
public func applyActivation(_ activation: Activation, to map: inout FeatureMap) {
    guard activation != .identity else { return }
    map.storage.withUnsafeMutableBufferPointer { values in
        switch activation {
        case .identity: break
        case .relu:
            for index in values.indices { values[index] = max(values[index], 0) }
        case .relu6:
            for index in values.indices { values[index] = min(max(values[index], 0), 6) }
        }
    }
}

/// max(x, 0) in place.
public func relu(_ map: inout FeatureMap) { applyActivation(.relu, to: &map) }

/// min(max(x, 0), 6) in place.
public func relu6(_ map: inout FeatureMap) { applyActivation(.relu6, to: &map) }
