//! A handler's response in the JSON API Gateway expects back for the event's payload format,
//! shaped as lambda_http shapes it (its `LambdaResponse` is not public). Built as JSON directly
//! rather than through aws_lambda_events' response types, whose header serialiser can fail: this
//! cannot, so there is no error path between an answer and API Gateway.

use base64::Engine;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::SET_COOKIE;
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};

use super::event::PayloadFormat;

pub fn to_gateway(format: PayloadFormat, response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let (body, is_base64_encoded) = match body {
        Body::Text(text) => (Some(text), false),
        Body::Binary(bytes) => (Some(base64::engine::general_purpose::STANDARD.encode(bytes)), true),
        // Body is non-exhaustive; what we cannot name we do not send.
        _ => (None, false),
    };
    let mut reply = Map::new();
    reply.insert("statusCode".into(), json!(parts.status.as_u16()));
    match format {
        PayloadFormat::V2 => {
            let (headers, cookies) = v2_headers(&parts.headers);
            reply.insert("headers".into(), Value::Object(headers));
            reply.insert("multiValueHeaders".into(), json!({}));
            reply.insert("cookies".into(), json!(cookies));
        }
        PayloadFormat::V1 => {
            // Only `multiValueHeaders`: API Gateway merges the two maps, and would repeat a header
            // present in both.
            reply.insert("headers".into(), json!({}));
            reply.insert("multiValueHeaders".into(), Value::Object(v1_headers(&parts.headers)));
        }
    }
    if let Some(body) = body {
        reply.insert("body".into(), Value::String(body));
    }
    reply.insert("isBase64Encoded".into(), Value::Bool(is_base64_encoded));
    Value::Object(reply)
}

fn text(value: &lambda_http::http::HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// Format 2.0 has one string per header (repeats joined with commas) and `Set-Cookie` apart.
fn v2_headers(headers: &HeaderMap) -> (Map<String, Value>, Vec<String>) {
    let mut joined = Map::new();
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values = headers.get_all(name).iter().map(text);
        if name == SET_COOKIE {
            cookies.extend(values);
        } else {
            joined.insert(name.as_str().to_owned(), Value::String(values.collect::<Vec<_>>().join(",")));
        }
    }
    (joined, cookies)
}

fn v1_headers(headers: &HeaderMap) -> Map<String, Value> {
    headers
        .keys()
        .map(|name| (name.as_str().to_owned(), json!(headers.get_all(name).iter().map(text).collect::<Vec<_>>())))
        .collect()
}

#[cfg(test)]
mod tests {
    use lambda_http::http::HeaderValue;

    use super::*;
    use crate::frame::response::json_response;

    #[test]
    fn each_format_gets_its_own_shape() {
        let mut response = json_response(401, &json!({"detail": "Invalid token."}));
        response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Token"));
        response.headers_mut().append(SET_COOKIE, HeaderValue::from_static("a=1"));
        let v2 = to_gateway(PayloadFormat::V2, response);
        assert_eq!(
            v2,
            json!({
                "statusCode": 401,
                "headers": { "content-type": "application/json", "www-authenticate": "Token" },
                "multiValueHeaders": {},
                "cookies": ["a=1"],
                "body": "{\"detail\":\"Invalid token.\"}",
                "isBase64Encoded": false
            })
        );
        let v1 = to_gateway(PayloadFormat::V1, json_response(404, &json!({"message": "Not Found"})));
        assert_eq!(
            v1,
            json!({
                "statusCode": 404,
                "headers": {},
                "multiValueHeaders": { "content-type": ["application/json"] },
                "body": "{\"message\":\"Not Found\"}",
                "isBase64Encoded": false
            })
        );
    }

    #[test]
    fn a_binary_body_is_base64() {
        let reply = to_gateway(PayloadFormat::V2, Response::new(Body::Binary(vec![0, 255])));
        assert_eq!(reply["body"], "AP8=");
        assert_eq!(reply["isBase64Encoded"], true);
        assert!(to_gateway(PayloadFormat::V1, Response::new(Body::Empty)).get("body").is_none());
    }
}
