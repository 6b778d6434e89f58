import Foundation
import Prometheus

/// The service's Prometheus metrics, in a registry of its own (nothing process-wide is bootstrapped,
/// so two services in one process, as in tests, keep separate counts).
public final class ServiceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let running: Gauge
    private let waiting: Gauge
    private let images: Gauge
    /// Seconds; from a cached thumbnail (a millisecond) to a pipeline with verification (seconds).
    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    public init() {
        running = registry.makeGauge(name: "landmark_queue_running", help: "Requests doing heavy work now.")
        waiting = registry.makeGauge(name: "landmark_queue_waiting", help: "Requests waiting for a worker.")
        images = registry.makeGauge(name: "landmark_index_images", help: "Images in the served index.")
    }

    func queueDepth(running: Int, waiting: Int) {
        self.running.set(Double(running))
        self.waiting.set(Double(waiting))
    }

    func indexSize(_ count: Int) { images.set(Double(count)) }

    /// Counts a finished request and records its latency, by route pattern, method and status.
    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(name: "landmark_http_requests_total",
                             labels: [("route", route), ("method", method), ("status", String(status))],
                             help: "HTTP requests answered.").increment()
        registry.makeDurationHistogram(name: "landmark_http_request_duration_seconds",
                                       labels: [("route", route), ("method", method)],
                                       buckets: Self.latencyBuckets,
                                       help: "Time from request to response.").record(duration)
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
