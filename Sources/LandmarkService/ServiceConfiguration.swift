import Foundation
import LandmarkImage
import LandmarkIndex
import LandmarkPipeline

/// What `landmark serve` is asked to serve and how hard it may be pushed.
public struct ServiceConfiguration: Sendable {
    /// Interface to listen on; loopback unless the operator opens it up.
    public var host = "127.0.0.1"
    /// 0 asks the system for a free port (tests).
    public var port = 8080
    /// The largest request body accepted (an upload of a full-size photograph fits with room to spare).
    public var maximumBodyBytes = 32 << 20
    /// Requests doing heavy work at once; both cores are used inside each one already.
    public var workers = 2
    /// Requests that may wait for a worker before new ones are refused with 503.
    public var queueCapacity = 16
    /// The longest a request waits for a worker before it is refused with 503.
    public var queueTimeout: Duration = .seconds(30)
    /// Connections idle this long are closed.
    public var idleTimeout: Duration = .seconds(60)
    /// Uploads whose header claims more pixels are refused before any pixel is decoded (the
    /// decompression-bomb guard); 50 Mpixel covers every camera photograph.
    public var maximumPixelCount = 50_000_000
    /// Results per query when the request does not say.
    public var defaultTop = 10
    /// The most results a request may ask for.
    public var maximumTop = 1000
    /// Required as `Authorization: Bearer KEY` or `X-API-Key: KEY` on every `/v1` route when set.
    public var apiKey: String?
    /// Lets `POST /v1/index` save uploads into the indexed folder and `DELETE /v1/images/{id}` remove
    /// images from the index. Off by default: a service only reads what it serves unless told otherwise.
    public var allowsUpdates = false
    /// Pipeline for search by image (nil: the index's plain search), e.g. `aqe2` or `best`.
    public var pipeline: PipelineDescription?
    /// Search settings of approximate indexes (probes, beam width).
    public var searchParameters = SearchParameters()
    /// Longer side of thumbnails.
    public var thumbnailSize = 320
    /// Thumbnails kept in memory.
    public var thumbnailCacheBytes = 64 << 20
    /// The folder uploads are saved under inside the indexed folder, with `allowsUpdates`.
    public var uploadFolder = "uploaded"
    /// A PostgreSQL + pgvector table holding the index's vectors (`landmark db push`): searches rank
    /// through it, so many services share one database. Not with `allowsUpdates`, which would leave the
    /// table behind the index.
    public var database: (url: String, table: String)?

    public init() {}

    var decoding: ImageDecodingOptions { ImageDecodingOptions(maximumPixelCount: maximumPixelCount) }
}
