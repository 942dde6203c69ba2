//! A request's JSON body: read as `web::Json` reads it (the same size limit, content type and
//! errors), with two differences: it must be an object (serde would read a struct's fields from
//! an array, `[null, null]`), and a whole number written with a fraction (`54.0`) is the
//! integer it is. JSON has one kind of number and JSON Schema counts `54.0` as an integer, so
//! a client that writes every number as a float (many do) is not refused for it.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ApiError;

/// The body, parsed into `T`; derefs to it like `web::Json`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Body<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let mut value = json.await?.into_inner();
            whole_numbers(&mut value);
            // Every body berth takes is an object, as every object inside one is (`Obj`).
            serde_json::from_value::<crate::dto::Obj<T>>(value)
                .map(|body| Body(body.0))
                .map_err(|e| ApiError::invalid("body", &e.to_string()).into())
        })
    }
}

/// The largest magnitude up to which every whole `f64` is exact.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Rewrites every whole number written as a float (`54.0`) as the integer it is.
fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            match n.as_f64() {
                // Whole, and within the range in which every whole float is exact.
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT => {
                    *n = (f as i64).into();
                }
                _ => {}
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers_and_nothing_else_changes() {
        let mut v = serde_json::json!({
            "replicas": 54.0, "cpus": 0.5, "size": -3.0, "big": 1e300, "n": 7,
            "list": [{ "port": 8080.0 }], "name": "54.0"
        });
        whole_numbers(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "replicas": 54, "cpus": 0.5, "size": -3, "big": 1e300, "n": 7,
                "list": [{ "port": 8080 }], "name": "54.0"
            })
        );
        #[derive(serde::Deserialize)]
        struct Scale {
            replicas: u32,
        }
        let mut v = serde_json::json!({ "replicas": 2.0 });
        whole_numbers(&mut v);
        assert_eq!(serde_json::from_value::<Scale>(v).unwrap().replicas, 2);
    }
}
