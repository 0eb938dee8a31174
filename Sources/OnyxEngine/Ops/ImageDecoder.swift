import Foundation
import OnyxTensor

enum ImageDecoderOps {
    static func register(_ t: inout OperatorTable) {
    }
}
