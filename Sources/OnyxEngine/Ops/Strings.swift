import Foundation
import OnyxTensor

enum StringOps {
    static func register(_ t: inout OperatorTable) {
    }
}
