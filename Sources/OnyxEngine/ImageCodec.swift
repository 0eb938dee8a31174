// The public face of the ImageDecoder operator's decoders (Ops/ImageDecoder.swift, ImageInflate.swift,
// ImageJPEG.swift), for code outside the engine that reads image files (OnyxData's image preprocessing).

/// Decoded pixels, interleaved: `channels` is 1 (gray) or 3 (RGB), rows top to bottom.
public struct DecodedImage: Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// `height × width × channels` bytes.
    public var pixels: [UInt8]
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}

/// Image file decoding: PNG (8-bit and lower depths, 16-bit keeps the high byte, alpha dropped, not interlaced),
/// baseline JPEG (libjpeg's islow IDCT and fancy upsampling, as Pillow decodes), BMP (24/32-bit), binary PNM
/// (P5/P6) and uncompressed baseline TIFF. Malformed or unsupported data throws `KernelError`; nothing traps.
public enum ImageCodec {
    /// Decodes an encoded image, recognised by its leading bytes.
    public static func decode(_ bytes: [UInt8]) throws -> DecodedImage {
        let img = try ImageDecoderOp.decode(bytes)
        guard img.pixels.count == img.width * img.height * img.channels else {
            throw KernelError("decoded image has the wrong size")
        }
        return img
    }
}
