//! Connecting to a PostgreSQL server the way libpq's `sslmode` says, with rustls: shared by the
//! server's connection tester and the collector agent.
//!
//! `disable` never uses TLS; `prefer` tries TLS and falls back; `require` insists on TLS without
//! verifying the certificate; `verify-ca` verifies the chain against the system's trusted roots;
//! `verify-full` verifies chain and host name.

use std::sync::Arc;

use domain::managed_instance::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TLS could not be set up as the mode asks (no trusted roots, say).
    #[error("{0}")]
    Tls(String),
    /// The server or the network said no.
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

/// Opens connections; holds the trusted roots and the crypto provider.
#[derive(Clone)]
pub struct PgConnector {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl Default for PgConnector {
    fn default() -> Self {
        Self::new()
    }
}

impl PgConnector {
    /// A connector trusting the system's root certificates.
    pub fn new() -> Self {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        Self {
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }

    fn tls(&self, mode: SslMode) -> Result<ClientConfig, String> {
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let webpki = || {
            WebPkiServerVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()
                .map_err(|e| format!("no trusted root certificates for {}: {e}", mode.as_str()))
        };
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                Arc::new(AcceptAnyCertificate(self.provider.clone()))
            }
            SslMode::VerifyCa => Arc::new(ChainOnly(webpki()?)),
            SslMode::VerifyFull => webpki()?,
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }

    /// The TLS connector `mode` calls for (certificate checks as described at the top of this
    /// crate), for pools that open their own connections.
    ///
    /// # Errors
    /// [`ConnectError::Tls`] when TLS cannot be set up as the mode asks.
    pub fn tls_connector(&self, mode: SslMode) -> Result<MakeRustlsConnect, ConnectError> {
        self.tls(mode)
            .map(MakeRustlsConnect::new)
            .map_err(ConnectError::Tls)
    }

    /// Connects with `config` (its ssl mode is set here from `mode`) and spawns the
    /// connection's task.
    ///
    /// # Errors
    /// [`ConnectError`] when TLS cannot be set up or the server refuses.
    pub async fn connect(
        &self,
        mut config: tokio_postgres::Config,
        mode: SslMode,
    ) -> Result<tokio_postgres::Client, ConnectError> {
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        if mode == SslMode::Disable {
            let (client, conn) = config.connect(NoTls).await?;
            tokio::spawn(conn);
            Ok(client)
        } else {
            let tls = self.tls(mode).map_err(ConnectError::Tls)?;
            let (client, conn) = config.connect(MakeRustlsConnect::new(tls)).await?;
            tokio::spawn(conn);
            Ok(client)
        }
    }
}

/// `sslmode=require` (and `prefer`): encrypted, not authenticated, as libpq does without a root
/// certificate. Signatures are still checked, so the handshake itself is sound.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must verify; the host name need not match.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
