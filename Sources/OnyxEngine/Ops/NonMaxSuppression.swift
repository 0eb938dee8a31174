import Foundation
import OnyxTensor

enum NonMaxSuppressionOps {
    static func register(_ t: inout OperatorTable) {
    }
}
