//! `Api`: a small HTTP client for the API under test, and the collectors it registers.

use serde_json::{json, Value};

/// A small HTTP client for the API under test.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Status, headers and body (JSON when it parses, else the text; `Null` when empty).
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Self {
            status,
            headers,
            body,
        }
    }
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}/api/v1"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::read(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(reqwest::Method::DELETE, path, Some(token), None)
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.post(
            "/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the access token, panicking on failure.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let reply = self.login(username, password).await;
        assert_eq!(reply.status, 200, "login {username}: {}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a user as `admin` and returns its id.
    pub async fn create_user(
        &self,
        admin: &str,
        username: &str,
        password: &str,
        role: &str,
    ) -> String {
        let reply = self
            .post(
                "/users",
                Some(admin),
                json!({"username": username, "password": password, "role": role}),
            )
            .await;
        assert_eq!(reply.status, 201, "create {username}: {}", reply.body);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// `POST /collectors/register` with `secret` (if any) in its header.
    pub async fn register(&self, secret: Option<&str>, body: Value) -> Reply {
        let mut request = self.http.post(format!("{}/collectors/register", self.base));
        if let Some(secret) = secret {
            request = request.header("X-Registration-Secret", secret);
        }
        Reply::read(request.json(&body).send().await.expect("register")).await
    }

    /// Creates a registration secret as `admin` from `body`; returns the secret itself.
    pub async fn registration_secret(&self, admin: &str, body: Value) -> String {
        let secret = self.post("/registration-secrets", Some(admin), body).await;
        assert_eq!(secret.status, 201, "{}", secret.body);
        secret.body["secret"].as_str().expect("secret").to_owned()
    }

    /// Registers a collector named `name` with `secret`, panicking unless it is a 201.
    pub async fn register_collector(&self, secret: &str, name: &str) -> RegisteredCollector {
        let reply = self
            .register(
                Some(secret),
                json!({"name": name, "hostname": "db-host-1", "version": "test"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let body = reply.body;
        RegisteredCollector {
            id: body["collector_id"].as_str().expect("id").to_owned(),
            token: body["token"].as_str().expect("token").to_owned(),
            refresh_secret: body["refresh_secret"].as_str().expect("refresh").to_owned(),
            secret: secret.to_owned(),
            nats: body.get("nats").cloned(),
        }
    }

    /// Asks for a one-use live-updates ticket with `token`, panicking on failure.
    pub async fn live_ticket(&self, token: &str) -> String {
        let reply = self.post("/events/ticket", Some(token), json!({})).await;
        assert_eq!(reply.status, 200, "ticket: {}", reply.body);
        reply.body["ticket"].as_str().expect("ticket").to_owned()
    }
}

#[derive(Clone)]
pub struct RegisteredCollector {
    pub id: String,
    pub token: String,
    pub refresh_secret: String,
    pub secret: String,
    /// Its NATS credential (`credentials`, `subject`, `inbox_prefix`, `expires_at`), when the
    /// server issues them.
    pub nats: Option<Value>,
}

/// Creates a registration secret as `admin`; returns the secret itself.
pub async fn registration_secret(api: &Api, admin: &str, name: &str) -> String {
    api.registration_secret(admin, json!({"name": format!("secret for {name}")}))
        .await
}

/// Creates a registration secret as `admin` and registers a collector with it.
pub async fn register_collector(api: &Api, admin: &str, name: &str) -> RegisteredCollector {
    let secret = registration_secret(api, admin, name).await;
    api.register_collector(&secret, name).await
}
