__version__ = "0.1.0"
#: Version of the stream contract (docs/stream.md): bumped on any change of output bits.
STREAM_VERSION = 1
