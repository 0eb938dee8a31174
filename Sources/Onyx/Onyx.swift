// The Onyx library: re-exports the public modules.
@_exported import OnyxTensor
@_exported import OnyxEngine
@_exported import OnyxONNX
@_exported import OnyxKernels
@_exported import OnyxMetrics
@_exported import OnyxData
@_exported import OnyxConvert
@_exported import OnyxEval
@_exported import OnyxCompress
