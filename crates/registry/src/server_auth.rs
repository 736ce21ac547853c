//! HTTP basic authentication for the registry server, with users from a password file
//! in the format Confluent's registry reads through Jetty (`user: password[,role...]`).
//!
//! Every route but `/health` asks for credentials; a request without them, or with wrong
//! ones, gets 401 with Confluent's error body and a `WWW-Authenticate` challenge. Passwords
//! never reach logs or `Debug` output.

use std::collections::HashMap;
use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

/// The users a registry server lets in.
#[derive(Clone, Default)]
pub struct ServerAuth {
    passwords: HashMap<String, String>,
}

impl fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&String> = self.passwords.keys().collect();
        users.sort();
        f.debug_struct("ServerAuth").field("users", &users).finish()
    }
}

impl ServerAuth {
    /// Lets in `user` with `password` (besides the users added before).
    ///
    /// ```
    /// let auth = kafkit_registry::ServerAuth::default().with_user("ci", "s3cret");
    /// assert!(auth.allows("ci", "s3cret"));
    /// assert!(!auth.allows("ci", "guess"));
    /// assert!(!format!("{auth:?}").contains("s3cret"));
    /// ```
    pub fn with_user(mut self, user: &str, password: &str) -> ServerAuth {
        self.passwords
            .insert(user.to_string(), password.to_string());
        self
    }

    /// Reads a password file: a user per line as `user: password` or `user: password,role`
    /// (Jetty's `HashLoginService` format, which Confluent's registry uses; roles are
    /// ignored), `#` starting a comment. `origin` names the file in errors, with the line.
    ///
    /// ```
    /// let auth = kafkit_registry::ServerAuth::parse("# users\nci: s3cret,admin\n", "users.txt").unwrap();
    /// assert!(auth.allows("ci", "s3cret"));
    /// let err = kafkit_registry::ServerAuth::parse("ci s3cret\n", "users.txt").unwrap_err();
    /// assert!(err.contains("users.txt line 1"));
    /// ```
    pub fn parse(text: &str, origin: &str) -> Result<ServerAuth, String> {
        let mut auth = ServerAuth::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let place = format!("{origin} line {}", index + 1);
            let Some((user, rest)) = line.split_once(':') else {
                return Err(format!("{place}: expected 'user: password', found no ':'"));
            };
            let password = rest.split(',').next().unwrap_or_default().trim();
            let user = user.trim();
            if user.is_empty() || password.is_empty() {
                return Err(format!("{place}: a user and a password are both needed"));
            }
            if ["OBF:", "MD5:", "CRYPT:"]
                .iter()
                .any(|scheme| password.starts_with(scheme))
            {
                return Err(format!(
                    "{place}: user {user}'s password is {}-encoded; give it in plain text",
                    password.split(':').next().unwrap_or_default()
                ));
            }
            auth = auth.with_user(user, password);
        }
        if auth.passwords.is_empty() {
            return Err(format!("{origin}: no users"));
        }
        Ok(auth)
    }

    /// Whether `user` with `password` may in (compared in time independent of where the
    /// password differs).
    pub fn allows(&self, user: &str, password: &str) -> bool {
        self.passwords
            .get(user)
            .is_some_and(|known| same_bytes(known.as_bytes(), password.as_bytes()))
    }

    /// Whether the `Authorization` header `value` names a user with the right password.
    fn admits(&self, value: Option<&HeaderValue>) -> bool {
        let Some(encoded) = value.and_then(|v| v.to_str().ok()).and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        }) else {
            return false;
        };
        use base64::Engine;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        decoded
            .split_once(':')
            .is_some_and(|(user, password)| self.allows(user, password))
    }
}

/// Asks every request of `router` but `/health` for the credentials of a user of `auth`.
pub fn with_basic_auth(router: Router, auth: ServerAuth) -> Router {
    let auth = std::sync::Arc::new(auth);
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let auth = auth.clone();
            async move {
                let open = request.uri().path() == "/health";
                if open || auth.admits(request.headers().get(header::AUTHORIZATION)) {
                    return next.run(request).await;
                }
                unauthorized()
            }
        },
    ))
}

fn unauthorized() -> Response {
    let body = Json(json!({"error_code": 401, "message": "Unauthorized"}));
    let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"SchemaRegistry\""),
    );
    response
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let mut differ = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        differ |= usize::from(a.get(i).copied().unwrap_or(!byte) ^ byte);
    }
    differ == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_admitted_only_with_the_right_password() {
        let auth = ServerAuth::default().with_user("Aladdin", "open sesame");
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        // RFC 7617's example.
        assert!(auth.admits(Some(&header("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))));
        assert!(!auth.admits(Some(&header("Basic QWxhZGRpbjpvcGVuIHNlc2FtZg=="))));
        assert!(!auth.admits(Some(&header("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))));
        assert!(!auth.admits(None));
    }

    #[test]
    fn encoded_passwords_and_empty_files_are_refused_with_the_line() {
        let err =
            ServerAuth::parse("a: b\nci: MD5:164c88b302622e17050af52c89945d44\n", "f").unwrap_err();
        assert!(err.contains("f line 2") && err.contains("MD5"), "{err}");
        assert!(ServerAuth::parse("# nobody\n", "f")
            .unwrap_err()
            .contains("no users"));
    }
}
