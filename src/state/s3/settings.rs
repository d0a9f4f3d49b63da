//! Where an S3 state lives (`s3://BUCKET/KEY` and the backend block's settings), and S3's naming rules for it.

/// Where the state object is, and how to reach it (anything unset comes from the AWS config chain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    pub key: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// An S3-compatible endpoint; path-style addressing is used with it.
    pub endpoint: Option<String>,
    /// Writes are encrypted with this KMS key (SSE-KMS) when set.
    pub kms_key_id: Option<String>,
}

impl S3Settings {
    /// `s3://bucket/key`, checked as `check` does.
    pub fn from_url(url: &str) -> std::result::Result<S3Settings, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{url}` is not an s3://BUCKET/KEY URL"))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| format!("`{url}` names no key: write s3://BUCKET/KEY"))?;
        let settings = S3Settings {
            bucket: bucket.to_string(),
            key: key.to_string(),
            ..S3Settings::default()
        };
        check_bucket(&settings.bucket)?;
        check_key(&settings.key)?;
        Ok(settings)
    }

    /// `s3://bucket/key`, as messages name the state.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    pub(super) fn lock_key(&self) -> String {
        format!("{}.lock", self.key)
    }
}

/// S3's bucket naming rules (general purpose buckets): 3 to 63 lowercase letters, digits, dots and hyphens, starting
/// and ending with a letter or digit.
pub fn check_bucket(bucket: &str) -> std::result::Result<(), String> {
    let ok_chars = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !ok_chars
        || !ends_ok(bucket.chars().next())
        || !ends_ok(bucket.chars().last())
        || bucket.contains("..")
    {
        return Err(format!(
            "`{bucket}` is not a valid S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens, \
             starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// A state key: a non-empty object name of at most 1,024 bytes, not a "folder" (ending in `/`).
pub fn check_key(key: &str) -> std::result::Result<(), String> {
    if key.is_empty() || key.ends_with('/') || key.len() > 1024 || key.contains('\0') {
        return Err(format!(
            "`{key}` is not a usable state key: name an object, e.g. network/dxctl.state.json"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_bucket_and_key_and_bad_ones_say_why() {
        let s = S3Settings::from_url("s3://team-net-state/dx/prod.json").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.key.as_str()),
            ("team-net-state", "dx/prod.json")
        );
        assert_eq!(s.url(), "s3://team-net-state/dx/prod.json");
        assert_eq!(s.lock_key(), "dx/prod.json.lock");
        for (bad, why) in [
            ("team/dx.json", "not an s3://"),
            ("s3://team-net-state", "names no key"),
            ("s3://team-net-state/", "not a usable state key"),
            ("s3://team-net-state/dir/", "not a usable state key"),
            ("s3://Team/dx.json", "not a valid S3 bucket name"),
            ("s3://ab/dx.json", "not a valid S3 bucket name"),
            ("s3://-ab/dx.json", "not a valid S3 bucket name"),
            ("s3://a..b/dx.json", "not a valid S3 bucket name"),
        ] {
            let err = S3Settings::from_url(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
