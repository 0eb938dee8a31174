/// The error type of the converters: one clear message.
public struct ConvertError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
