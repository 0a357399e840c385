// Header-only module: see include/segrun_int8.h. SwiftPM needs one source file per C target.
