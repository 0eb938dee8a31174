// Evaluation data from one numpy .npz archive holding the features and the labels (`np.savez(path, x=X, y=y)` or
// `np.savez_compressed`), read by OnyxTensor's ZipArchive and decoded as .npy.
import Foundation
import OnyxTensor

extension EvalData {
    /// Features and labels from the members `features` (default "x") and `labels` (default "y") of an .npz file
    /// written by `np.savez` or `np.savez_compressed`.
    /// Member arrays are read as by `EvalData.npy(path:labels:)`.
    public static func npz(path: String, features: String = "x", labels: String = "y") throws -> EvalData {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvalError("\(path): cannot read file") }
        let arrays: [String: Tensor]
        do { arrays = try NPZ.read(bytes: [UInt8](data)) } catch let e as ZipError {
            throw EvalError("\(path): not an .npz (zip) archive: \(e.description)")
        } catch { throw EvalError("\(path): \(error)") }
        func member(_ name: String) throws -> Tensor {
            guard let t = arrays[name] else {
                throw EvalError("\(path): no array '\(name)' (arrays: \(arrays.keys.sorted().joined(separator: ", "))); write it with np.savez(path, x=X, y=y)")
            }
            return t
        }
        let x = try member(features), y = try member(labels)
        return try EvalData.arrays(x, y, path: path, labelName: labels)
    }
}
