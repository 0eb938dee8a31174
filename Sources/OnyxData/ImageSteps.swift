// Image inputs for vision models: decode (PNG, baseline JPEG, BMP, PNM, TIFF through the engine's ImageCodec),
// resize (bilinear), center-crop, channel order, scale + mean/std normalization, out to NCHW (or NHWC) float32.
//
// Definitions follow torchvision's usual eval transform, Resize → CenterCrop → ToTensor → Normalize, with
// `antialias=False`:
// - Bilinear resize is PyTorch's `interpolate(mode="bilinear", align_corners=False, antialias=False)`: source
//   coordinate (d + 0.5) · in/out − 0.5, clamped at 0, the two neighbours (the last one repeated at the edge),
//   computed in float32 on the 0…255 pixel values. It is not Pillow's `Image.resize(BILINEAR)`, which widens the
//   filter when downscaling (antialiasing); not OpenCV's INTER_LINEAR on uint8 either (fixed-point, rounded to
//   uint8).
// - Resize to the shorter side N keeps the aspect ratio: the longer side is ⌊N · long / short⌋ (torchvision).
// - Center crop: top = round((h − ch) / 2), left = round((w − cw) / 2), with Python's round (half to even).
// - Values: pixel · scale (1/255 by default), then (v − mean[c]) / std[c].
// Gray images are replicated to three channels; alpha is dropped.
import Foundation
import OnyxEngine
import OnyxTensor

/// A fitted (fixed) image transform, saved in a pipeline file under "image" so the same preprocessing is
/// re-applied later (`onyx data image --pipeline`, `onyx eval --pipeline`).
public struct ImageTransform: Codable, Sendable, Equatable {
    /// Resize the whole image to [height, width] (aspect ratio not kept). Ignored when `resizeShorter` is set.
    public var size: [Int]?
    /// Resize so that the shorter side is this many pixels, keeping the aspect ratio.
    public var resizeShorter: Int?
    /// Center-crop to [height, width] after resizing (default: no crop, or `size` after `resizeShorter`).
    public var crop: [Int]?
    /// Multiplier applied to the 0…255 pixel values before normalization (torchvision's ToTensor: 1/255).
    public var scale: Double
    /// Per-channel mean and standard deviation, in the output channel order (one value: all channels).
    public var mean: [Double]
    public var std: [Double]
    /// "rgb" or "bgr".
    public var channels: String
    /// "nchw" or "nhwc".
    public var layout: String

    enum CodingKeys: String, CodingKey {
        case size, crop, scale, mean, std, channels, layout
        case resizeShorter = "resize_shorter"
    }

    public init(size: [Int]? = nil, resizeShorter: Int? = nil, crop: [Int]? = nil, scale: Double = 1.0 / 255,
                mean: [Double] = [0], std: [Double] = [1], channels: String = "rgb", layout: String = "nchw") throws {
        self.size = size; self.resizeShorter = resizeShorter; self.crop = crop; self.scale = scale
        self.mean = mean; self.std = std; self.channels = channels; self.layout = layout
        try validate()
    }

    /// Checks the options; errors say which one is wrong.
    public func validate() throws {
        func bad(_ m: String) -> DataError { DataError(file: "image", m) }
        if let s = size, s.count != 2 || s.contains(where: { $0 < 1 || $0 > 1 << 15 }) { throw bad("size must be H,W with 1 ≤ H, W ≤ 32768, got \(s)") }
        if let c = crop, c.count != 2 || c.contains(where: { $0 < 1 || $0 > 1 << 15 }) { throw bad("crop must be H,W with 1 ≤ H, W ≤ 32768, got \(c)") }
        if let r = resizeShorter, r < 1 || r > 1 << 15 { throw bad("resize-shorter must be in 1…32768, got \(r)") }
        if size == nil && resizeShorter == nil { throw bad("give a size (H,W) or a shorter-side length to resize to") }
        if resizeShorter != nil && crop == nil && size == nil { throw bad("resize-shorter needs a crop size (H,W): images of different shapes cannot be stacked") }
        guard [1, 3].contains(mean.count), [1, 3].contains(std.count) else { throw bad("mean and std take 1 or 3 values") }
        guard std.allSatisfy({ $0 != 0 && $0.isFinite }), mean.allSatisfy(\.isFinite), scale.isFinite else { throw bad("std must be non-zero, mean and std finite") }
        guard channels == "rgb" || channels == "bgr" else { throw bad("channels must be rgb or bgr, got '\(channels)'") }
        guard layout == "nchw" || layout == "nhwc" else { throw bad("layout must be nchw or nhwc, got '\(layout)'") }
    }

    /// The output [height, width].
    public var outputSize: (height: Int, width: Int) {
        if let c = crop { return (c[0], c[1]) }
        if resizeShorter == nil, let s = size { return (s[0], s[1]) }
        let s = size ?? [1, 1]
        return (s[0], s[1])
    }

    /// Shape of one transformed image: [3, H, W] (nchw) or [H, W, 3] (nhwc).
    public var sampleShape: [Int] {
        let (h, w) = outputSize
        return layout == "nhwc" ? [h, w, 3] : [3, h, w]
    }

    /// Size after resizing an image of `h × w`.
    public func resizedSize(height h: Int, width w: Int) -> (height: Int, width: Int) {
        if let n = resizeShorter {
            if w <= h { return (Int(Double(n) * Double(h) / Double(w)), n) }
            return (n, Int(Double(n) * Double(w) / Double(h)))
        }
        let s = size ?? [h, w]
        return (s[0], s[1])
    }

    /// Transforms one decoded image into `out` (`sampleShape` elements). `name` is used in errors.
    public func apply(_ img: DecodedImage, into out: UnsafeMutableBufferPointer<Float>, name: String) throws {
        let (oh, ow) = outputSize
        guard out.count == 3 * oh * ow else { throw DataError(file: name, "output buffer has the wrong size") }
        let (rh, rw) = resizedSize(height: img.height, width: img.width)
        guard rh >= 1, rw >= 1 else { throw DataError(file: name, "image \(img.width)x\(img.height) resizes to nothing") }
        guard rh >= oh, rw >= ow else {
            throw DataError(file: name, "image \(img.width)x\(img.height) resized to \(rw)x\(rh) is smaller than the crop \(ow)x\(oh)")
        }
        let top = Int((Double(rh - oh) / 2).rounded(.toNearestOrEven)), left = Int((Double(rw - ow) / 2).rounded(.toNearestOrEven))
        // Bilinear taps along each axis, for the output rows / columns only (the crop is a window of the resize).
        let ys = ImageTransform.taps(inSize: img.height, outSize: rh, range: top..<(top + oh))
        let xs = ImageTransform.taps(inSize: img.width, outSize: rw, range: left..<(left + ow))
        let ch = img.channels, w = img.width
        let order = channels == "bgr" ? [2, 1, 0] : [0, 1, 2]
        var mul = [Float](repeating: 0, count: 3), add = [Float](repeating: 0, count: 3)
        for c in 0..<3 {
            let m = mean.count == 3 ? mean[c] : mean[0], s = std.count == 3 ? std[c] : std[0]
            mul[c] = Float(scale / s)  // (p·scale − m) / s = p · (scale/s) − m/s
            add[c] = Float(-m / s)
        }
        let nhwc = layout == "nhwc"
        img.pixels.withUnsafeBufferPointer { px in
            for (oy, ty) in ys.enumerated() {
                let r0 = ty.i0 * w, r1 = ty.i1 * w
                for (ox, tx) in xs.enumerated() {
                    for c in 0..<3 {
                        let src = ch == 1 ? 0 : order[c]
                        @inline(__always) func p(_ row: Int, _ col: Int) -> Float { Float(px[(row + col) * ch + src]) }
                        // PyTorch's order of operations: h0λ·(w0λ·a + w1λ·b) + h1λ·(w0λ·c + w1λ·d).
                        let top = tx.w0 * p(r0, tx.i0) + tx.w1 * p(r0, tx.i1)
                        let bottom = tx.w0 * p(r1, tx.i0) + tx.w1 * p(r1, tx.i1)
                        let v = ty.w0 * top + ty.w1 * bottom
                        let o = nhwc ? (oy * ow + ox) * 3 + c : (c * oh + oy) * ow + ox
                        out[o] = v * mul[c] + add[c]
                    }
                }
            }
        }
    }

    struct Tap { var i0: Int, i1: Int, w0: Float, w1: Float }

    /// PyTorch upsample_bilinear2d (align_corners=False) source taps for output positions `range` of `outSize`.
    static func taps(inSize: Int, outSize: Int, range: Range<Int>) -> [Tap] {
        let scale = Float(inSize) / Float(outSize)
        return range.map { d in
            var src = scale * (Float(d) + 0.5) - 0.5
            if src < 0 { src = 0 }
            let i0 = min(Int(src), inSize - 1)
            let i1 = i0 + (i0 < inSize - 1 ? 1 : 0)
            let l1 = src - Float(i0)
            return Tap(i0: i0, i1: i1, w0: 1 - l1, w1: l1)
        }
    }

    /// Reads and transforms one image file.
    public func load(_ path: String, into out: UnsafeMutableBufferPointer<Float>) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "cannot read file") }
        let img: DecodedImage
        do { img = try ImageCodec.decode([UInt8](data)) } catch { throw DataError(file: path, "\(error)") }
        try apply(img, into: out, name: path)
    }

    /// Reads and transforms `paths` (on all cores) into one float32 tensor [N] + `sampleShape`.
    /// `progress(done, total)` is called from worker threads after each image.
    public func batch(_ paths: [String], progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Tensor {
        let per = sampleShape.reduce(1, *)
        var values = [Float](repeating: 0, count: paths.count * per)
        let errors = FirstError()
        let counter = ImageCounter()
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, paths.count))
        values.withUnsafeMutableBufferPointer { buf in
            let shared = SharedFloats(buf)
            DispatchQueue.concurrentPerform(iterations: workers) { k in
                var i = k
                while i < paths.count, !errors.isSet {
                    let slice = UnsafeMutableBufferPointer(rebasing: shared.buffer[(i * per)..<((i + 1) * per)])
                    do { try self.load(paths[i], into: slice) } catch { errors.set(i, error) }
                    progress?(counter.increment(), paths.count)
                    i += workers
                }
            }
        }
        if let e = errors.first { throw e }
        return try Tensor(shape: [paths.count] + sampleShape, values: values)
    }

    /// The image files under `dir`: files with an image extension (torchvision's list: jpg, jpeg, png, ppm, bmp,
    /// pgm, tif, tiff, case-insensitive), walked recursively, sorted by code point within each folder.
    public static func files(in dir: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: dir, "not a directory")
        }
        var out = [String]()
        func walk(_ d: String) throws {
            let entries: [String]
            do { entries = try FileManager.default.contentsOfDirectory(atPath: d) } catch { throw DataError(file: d, "cannot list directory") }
            var files = [String](), dirs = [String]()
            for e in entries.sorted(by: codePointLess) where !e.hasPrefix(".") {
                let p = (d as NSString).appendingPathComponent(e)
                var sub: ObjCBool = false
                guard FileManager.default.fileExists(atPath: p, isDirectory: &sub) else { continue }
                if sub.boolValue { dirs.append(p) } else if isImageFile(e) { files.append(p) }
            }
            out += files
            for s in dirs { try walk(s) }
        }
        try walk(dir)
        return out
    }

    static let extensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff"]
    public static func isImageFile(_ name: String) -> Bool {
        extensions.contains((name as NSString).pathExtension.lowercased())
    }
}

/// Python's string order (by Unicode code point), as `sorted()` and torchvision's ImageFolder use.
public func codePointLess(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
}

/// An image folder laid out as `DIR/<class>/…/*.png`, as torchvision's ImageFolder reads it: classes are the
/// sub-folder names sorted by code point, class index = position in that list.
public struct ImageFolder: Sendable {
    public let root: String
    public let classes: [String]
    /// Every image file with the class index of its folder.
    public let files: [(path: String, classIndex: Int)]

    public init(_ root: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: root, "not a directory")
        }
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: root) } catch { throw DataError(file: root, "cannot list directory") }
        let classes = entries.filter { e in
            var d: ObjCBool = false
            return !e.hasPrefix(".") && FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(e), isDirectory: &d) && d.boolValue
        }.sorted(by: codePointLess)
        guard !classes.isEmpty else { throw DataError(file: root, "no class folders (expected DIR/<class>/<image files>)") }
        var files = [(path: String, classIndex: Int)]()
        for (k, c) in classes.enumerated() {
            for f in try ImageTransform.files(in: (root as NSString).appendingPathComponent(c)) { files.append((f, k)) }
        }
        guard !files.isEmpty else { throw DataError(file: root, "no image files (jpg, jpeg, png, ppm, bmp, pgm, tif, tiff) in the class folders") }
        self.root = root; self.classes = classes; self.files = files
    }
}

extension Pipeline {
    /// A pipeline holding only an image transform (saved by `onyx data image --save-pipeline`).
    public static func image(_ t: ImageTransform) -> Pipeline {
        var p = Pipeline(input: [], missing: [], steps: [])
        p.image = t
        return p
    }
}

/// Shares a float buffer between image workers. `@unchecked Sendable`: each worker writes only the slices of the
/// images it was given (index ≡ worker mod workers), and the buffer outlives `concurrentPerform`.
struct SharedFloats: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
    init(_ b: UnsafeMutableBufferPointer<Float>) { buffer = b }
}

/// The first error of the image workers (lowest image index). `@unchecked Sendable`: fields under `lock`.
final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var index = Int.max
    private var error: Error?
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return error != nil }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return error }
    func set(_ i: Int, _ e: Error) { lock.lock(); if i < index { index = i; error = e }; lock.unlock() }
}

/// Counts finished images. `@unchecked Sendable`: the count is changed under `lock`.
final class ImageCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
}
