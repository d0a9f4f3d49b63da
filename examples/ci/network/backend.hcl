# The shared state: one object in S3, written only by compare-and-swap, and `<key>.lock` held while an apply runs.
# The workflow's concurrency groups (../dxctl.yml) name this bucket and key: change them together.
backend "s3" {
  bucket = "example-dxctl-state"
  key    = "network/dxctl.state.json"
  region = "us-east-1"
}
