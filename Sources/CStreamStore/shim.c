// Header-only module: see include/segrun_stream.h. SwiftPM needs one source file per C target.
