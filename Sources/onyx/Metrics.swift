import ArgumentParser
import Foundation
import Onyx

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluation metrics of predictions in a CSV file, with scikit-learn's definitions.",
        discussion: """
            With --pred: label metrics (accuracy, precision/recall/F1, confusion matrix, MCC, kappa), or regression \
            metrics (MAE, MSE, RMSE, R², MAPE, explained variance) when the label column holds non-integral numbers.
            With --scores: column i holds the score of class i, classes sorted as scikit-learn sorts them (numbers \
            numerically, strings by code point); the predicted label is the argmax. Adds ROC AUC, average precision, \
            log loss and, for a binary problem, the ROC and precision-recall curves.
            Example: onyx metrics Examples/predictions/iris_logreg.csv --label species \
            --scores p_setosa,p_versicolor,p_virginica
            """)

    @Argument(help: "The CSV file (header row, RFC 4180 quoting).") var file: String
    @Option(help: "Column with the true labels (or regression targets).") var label: String
    @Option(help: "Column with the predicted labels (or regression predictions).") var pred: String?
    @Option(help: "Comma-separated score columns, one per class in sorted class order.") var scores: String?
    @Option(name: .customLong("pos-label"), help: "Positive class of a binary problem (default: the greater label).")
    var posLabel: String?
    @Flag(help: "Print one JSON object with scikit-learn's metric names as keys.") var json = false

    func run() throws {
        if pred == nil && scores == nil { fail("give --pred COL or --scores COL1,COL2,...") }
        let scoreColumns = scores.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let report = guarded {
            try MetricsReport.build(table: try CSVReader.read(path: file), label: label, pred: pred,
                                    scores: scoreColumns, posLabel: posLabel)
        }
        if json {
            print(report.json())
            for note in report.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        } else {
            print("\(file): \(report.kind.rawValue)")
            print(report.table())
        }
    }
}
