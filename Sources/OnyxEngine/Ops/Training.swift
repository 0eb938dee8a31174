import Foundation
import OnyxTensor

enum TrainingOps {
    static func register(_ t: inout OperatorTable) {
    }
}
