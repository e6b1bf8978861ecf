"""Generated protobuf package (do not edit; run `make protos`)."""
