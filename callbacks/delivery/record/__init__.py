"""Record: what a send's result means (`outcomes`), the batch's rows written in bulk (`writes`), the
hourly rollups (`stats`) and each profile's health, abnormal and recovered (`health`)."""
