import Foundation
import OnyxTensor

enum TfIdfOps {
    static func register(_ t: inout OperatorTable) {
    }
}
