//! Reading a signup request body into `(name, value)` pairs, whatever its content type.
//!
//! Three encodings are accepted: `application/x-www-form-urlencoded` (a plain HTML form),
//! `multipart/form-data` (`fetch()` with a `FormData`), and `application/json` (an object whose
//! values are strings; `list` may also be an array of strings; `null` means absent). Anything else
//! is a 415. Text must be UTF-8: a body that does not decode is malformed (400), never "repaired".

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use bytes::Bytes;
use percent_encoding::percent_decode;

use super::error::SignupError;

/// The repeatable field that names optional lists.
pub const LIST_FIELD: &str = "list";

/// The body encodings the endpoint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    UrlEncoded,
    Multipart { boundary: String },
    Json,
}

impl BodyKind {
    /// Decide from `Content-Type`; anything unsupported (or missing) is a 415.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, SignupError> {
        let value = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => Ok(Self::UrlEncoded),
            "application/json" => Ok(Self::Json),
            "multipart/form-data" => multer::parse_boundary(value)
                .map(|boundary| Self::Multipart { boundary })
                .map_err(|_| {
                    SignupError::malformed("multipart/form-data without a valid boundary")
                }),
            "" => Err(SignupError::unsupported_media_type(
                "the request has no Content-Type",
            )),
            other => Err(SignupError::unsupported_media_type(&format!(
                "Content-Type `{other}` is not accepted"
            ))),
        }
    }

    pub async fn parse(&self, body: Bytes) -> Result<Vec<(String, String)>, SignupError> {
        match self {
            Self::UrlEncoded => parse_urlencoded(&body),
            Self::Json => parse_json(&body),
            Self::Multipart { boundary } => parse_multipart(body, boundary).await,
        }
    }
}

fn parse_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, SignupError> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let name = decode_component(parts.next().unwrap_or_default())?;
            let value = decode_component(parts.next().unwrap_or_default())?;
            Ok((name, value))
        })
        .collect()
}

/// Percent-decode one urlencoded component strictly (invalid UTF-8 is an error, not U+FFFD).
fn decode_component(raw: &[u8]) -> Result<String, SignupError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| SignupError::malformed("the form body is not valid UTF-8"))
}

fn parse_json(body: &[u8]) -> Result<Vec<(String, String)>, SignupError> {
    let object: JsonFields = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            SignupError::malformed("the JSON body must be an object of fields")
        } else {
            SignupError::malformed(&format!("the body is not valid JSON: {e}"))
        }
    })?;
    let mut fields = Vec::with_capacity(object.0.len());
    let mut seen = std::collections::HashSet::new();
    for (name, value) in object.0 {
        // serde_json's maps keep the last of a repeated key; a form body would be refused for the
        // same thing, so JSON is too.
        if !seen.insert(name.clone()) {
            return Err(SignupError::duplicate_field(&name));
        }
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => fields.push((name, s)),
            serde_json::Value::Array(items) if name == LIST_FIELD => {
                for item in items {
                    let serde_json::Value::String(s) = item else {
                        return Err(SignupError::invalid_type(&name, "an array of strings"));
                    };
                    fields.push((name.clone(), s));
                }
            }
            _ => {
                let expected = if name == LIST_FIELD {
                    "a string or an array of strings"
                } else {
                    "a string"
                };
                return Err(SignupError::invalid_type(&name, expected));
            }
        }
    }
    Ok(fields)
}

/// A JSON object read as its `(key, value)` pairs in order, repeats included.
struct JsonFields(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for JsonFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = JsonFields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of fields")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<JsonFields, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(JsonFields(pairs))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

async fn parse_multipart(
    body: Bytes,
    boundary: &str,
) -> Result<Vec<(String, String)>, SignupError> {
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    loop {
        let field = multipart.next_field().await.map_err(|e| {
            SignupError::malformed(&format!("the multipart body is malformed: {e}"))
        })?;
        let Some(field) = field else { break };
        let name = field
            .name()
            .ok_or_else(|| SignupError::malformed("a multipart part has no field name"))?
            .to_owned();
        if field.file_name().is_some() || names_a_file(field.headers()) {
            return Err(SignupError::unexpected_file(&name));
        }
        let bytes = field.bytes().await.map_err(|e| {
            SignupError::malformed(&format!("the multipart body is malformed: {e}"))
        })?;
        let value = String::from_utf8(bytes.to_vec())
            .map_err(|_| SignupError::malformed(&format!("field `{name}` is not valid UTF-8")))?;
        fields.push((name, value));
    }
    Ok(fields)
}

/// Whether a part's `Content-Disposition` has a `filename` or `filename*` (RFC 5987/6266)
/// parameter. multer reads only `filename=`, and a file is a file however its name is written.
fn names_a_file(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::CONTENT_DISPOSITION)
        .iter()
        .any(|value| {
            disposition_parameter_names(value.as_bytes())
                .iter()
                .any(|name| {
                    name.eq_ignore_ascii_case("filename") || name.eq_ignore_ascii_case("filename*")
                })
        })
}

/// The parameter names of a `Content-Disposition` value (`form-data; name="a"; filename*=…`),
/// splitting on `;` outside quoted strings so that a quoted value cannot fake or hide a name.
fn disposition_parameter_names(value: &[u8]) -> Vec<String> {
    let mut segments = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in value.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b';' if !quoted => {
                segments.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    segments.push(&value[start..]);
    segments
        .into_iter()
        .skip(1) // the disposition type itself
        .filter_map(|segment| {
            let name = segment.split(|b| *b == b'=').next()?;
            Some(String::from_utf8_lossy(name).trim().to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn urlencoded_decodes_plus_percent_and_repeats() {
        let fields =
            parse_urlencoded(b"email=a%40b.co&first_name=Jo+Ann&list=1&list=2&empty=").unwrap();
        assert_eq!(
            fields,
            pairs(&[
                ("email", "a@b.co"),
                ("first_name", "Jo Ann"),
                ("list", "1"),
                ("list", "2"),
                ("empty", "")
            ])
        );
    }

    #[test]
    fn urlencoded_rejects_invalid_utf8() {
        let err = parse_urlencoded(b"first_name=%FF%FE").unwrap_err();
        assert_eq!(err.code, "malformed_body");
    }

    #[test]
    fn json_accepts_strings_null_and_list_arrays() {
        let fields = parse_json(br#"{"email":"a@b.co","phone":null,"list":["x","y"]}"#).unwrap();
        assert_eq!(
            fields,
            pairs(&[("email", "a@b.co"), ("list", "x"), ("list", "y")])
        );
    }

    #[test]
    fn json_refuses_a_repeated_key() {
        let err = parse_json(br#"{"email":"a@x.io","email":"b@y.io"}"#).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            ("duplicate_field", Some("email"))
        );
    }

    #[test]
    fn json_refuses_other_shapes() {
        assert_eq!(parse_json(b"[1,2]").unwrap_err().code, "malformed_body");
        assert_eq!(
            parse_json(b"{\"email\":").unwrap_err().code,
            "malformed_body"
        );
        let err = parse_json(br#"{"email":5}"#).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            ("invalid_type", Some("email"))
        );
        let err = parse_json(br#"{"first_name":["a"]}"#).unwrap_err();
        assert_eq!(err.code, "invalid_type");
    }

    fn part(disposition: &str) -> String {
        format!("--XyZ\r\nContent-Disposition: {disposition}\r\n\r\nvalue\r\n--XyZ--\r\n")
    }

    #[tokio::test]
    async fn a_part_with_any_form_of_filename_is_a_file() {
        for disposition in [
            r#"form-data; name="doc"; filename="a.txt""#,
            r#"form-data; name="doc"; filename*=UTF-8''a.txt"#,
            r#"form-data; name="doc"; FILENAME*=utf-8''%C3%A9.txt"#,
            r#"form-data; name="doc" ; filename* = UTF-8''a.txt"#,
        ] {
            let err = parse_multipart(Bytes::from(part(disposition)), "XyZ")
                .await
                .unwrap_err();
            assert_eq!(
                (err.code, err.field.as_deref()),
                ("unexpected_file", Some("doc")),
                "{disposition}"
            );
        }
    }

    #[tokio::test]
    async fn a_quoted_value_mentioning_filename_is_not_a_file() {
        let disposition = r#"form-data; name="a;filename*=x""#;
        let fields = parse_multipart(Bytes::from(part(disposition)), "XyZ")
            .await
            .unwrap();
        assert_eq!(fields, pairs(&[("a;filename*=x", "value")]));
    }

    #[test]
    fn content_types_are_recognised_with_parameters() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(BodyKind::from_headers(&headers).unwrap(), BodyKind::Json);
        headers.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            BodyKind::from_headers(&headers).unwrap_err().code,
            "unsupported_media_type"
        );
        headers.insert(CONTENT_TYPE, "multipart/form-data".parse().unwrap());
        assert_eq!(
            BodyKind::from_headers(&headers).unwrap_err().code,
            "malformed_body"
        );
        assert_eq!(
            BodyKind::from_headers(&HeaderMap::new()).unwrap_err().code,
            "unsupported_media_type"
        );
    }
}
