//! The production set-up: a 3-node JetStream cluster with R3 streams, in operator mode as
//! `pganalytics nats-init` makes it. Its stream leader and then a projection worker die in the
//! middle of ingest: no acknowledged batch is lost and none is counted twice.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pganalytics::app::{self, Roles};
use tokio_util::sync::CancellationToken;

use crate::faults::{free_port, wait_for_port};
use crate::support::{eventually_within, RegisteredCollector, TestApp, TestEnv};

/// Three nats-server processes in one cluster, sharing the operator, accounts and server
/// credential of one `nats-init`.
struct Cluster {
    nodes: Vec<Option<Child>>,
    ports: Vec<u16>,
    dir: std::path::PathBuf,
    env: String,
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("pga-cluster-{}", uuid::Uuid::new_v4()));
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let written = pganalytics::nats_init::NatsInit {
            dir: dir.join("nats"),
            server_dir: None,
            offline_dir: None,
            listen: format!("127.0.0.1:{}", ports[0]).parse().expect("addr"),
            store_dir: None,
        }
        .run()
        .expect("nats-init");
        let env = std::fs::read_to_string(&written.server_env).expect("env");
        let conf_dir = written.nats_config.parent().expect("dir").to_owned();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let others: Vec<String> = (0..3)
                .filter(|j| *j != i)
                .map(|j| format!("nats-route://127.0.0.1:{}", routes[j]))
                .collect();
            let conf = conf_dir.join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: \"127.0.0.1:{}\"\n\
                     jetstream {{\n  store_dir: \"{}\"\n}}\n\
                     cluster {{\n  name: pga\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}\n\
                     include auth.conf\n",
                    ports[i],
                    dir.join(format!("js{i}")).display(),
                    routes[i],
                    others.join(", ")
                ),
            )
            .expect("node config");
            let child = Command::new("nats-server")
                .arg("-c")
                .arg(&conf)
                .arg("-l")
                .arg(dir.join(format!("n{i}.log")))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server on PATH");
            nodes.push(Some(child));
        }
        Self {
            nodes,
            ports,
            dir,
            env,
        }
    }

    fn var(&self, name: &str) -> String {
        self.env
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .expect("variable")
            .to_owned()
    }

    /// Every node's client URL: the client fails over between them.
    fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `n` (SIGKILL).
    fn kill(&mut self, n: usize) {
        if let Some(mut child) = self.nodes[n].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in 0..self.nodes.len() {
            self.kill(n);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Pushes `c`'s batch `n` until it is accepted, as a collector retries: the same batch id, so a
/// batch JetStream stored without the bridge hearing the ack is deduplicated.
async fn push_until_accepted(app: &TestApp, c: &RegisteredCollector, n: usize) {
    let body = crate::scale_out::batch(c, n);
    // Up to 90 s: a stream's new leader is elected slowly on two loaded cores.
    for _ in 0..180 {
        if app.push(c, &body).await.status == 202 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("batch {n} of {} never accepted", c.id);
}

/// The node leading the stream `name`, from JetStream's own answer.
async fn leader(js: &async_nats::jetstream::Context, name: &str) -> Option<String> {
    let mut stream = js.get_stream(name).await.ok()?;
    let info = stream.info().await.ok()?;
    let cluster = info.cluster.as_ref()?;
    let replicas = cluster.replicas.iter().filter(|r| r.current).count();
    // A leader and two current followers: the R3 stream is whole.
    (replicas == 2).then(|| cluster.leader.clone()).flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_r3_cluster_loses_no_batch_when_its_stream_leader_and_a_worker_die() {
    let mut cluster = Cluster::start();
    for port in cluster.ports.clone() {
        wait_for_port(port).await;
    }
    let mut env = TestEnv::with_nats(&cluster.url()).await;
    let creds = std::fs::read_to_string(cluster.var("PGA_NATS_CREDS")).expect("creds");
    env.config = env
        .config
        .clone()
        .with_nats_operator_auth(
            &creds,
            &cluster.var("PGA_NATS_COLLECTOR_ACCOUNT"),
            &cluster.var("PGA_NATS_COLLECTOR_SIGNING_KEY"),
        )
        .expect("operator auth");
    env.config.nats_replicas = 3;
    env.config.names = env.config.names.clone().with_partitions(2);
    env.config.workers.lease = Duration::from_secs(2);
    env.config.workers.tick = Duration::from_millis(400);
    let app = TestApp::builder().on(env).admin().spawn().await;
    let names = app.config().names.clone();
    let js = app.jetstream().await;
    // The streams, replicated three times, each with a leader.
    let streams: Vec<String> = (0..names.partitions())
        .map(|p| names.metrics_partition_stream(p))
        .chain([names.events_stream()])
        .collect();
    for stream in &streams {
        eventually_within(
            60,
            &format!("{stream} is an R3 stream with a leader"),
            || async { leader(&js, stream).await },
        )
        .await;
    }
    let second = app::start(
        &app.env.config,
        Roles {
            api: false,
            ingest: false,
            project: true,
            migrate: false,
        },
        CancellationToken::new(),
    )
    .await
    .expect("second worker");

    let mut collectors = Vec::new();
    for i in 0..4 {
        collectors.push(app.register_collector(&format!("c{i}")).await);
    }
    const BATCHES: usize = 30;
    let mut second = Some(second);
    let mut killed = None;
    for n in 0..BATCHES {
        for c in &collectors {
            push_until_accepted(&app, c, n).await;
        }
        if n == BATCHES / 3 {
            // The leader of the first collector's partition stream dies.
            let partition = domain::bus::metric_partition(&collectors[0].id, names.partitions());
            let stream = names.metrics_partition_stream(partition);
            let leader = leader(&js, &stream).await.expect("a leader");
            let node: usize = leader.trim_start_matches('n').parse().expect("node name");
            cluster.kill(node);
            killed = Some(leader);
        }
        if n == 2 * BATCHES / 3 {
            // Then a projection worker.
            drop(second.take());
        }
    }
    let killed = killed.expect("a node was killed");

    crate::scale_out::each_batch_counted_once(&app, &collectors, BATCHES).await;
    // The streams carried on under new leaders, on the two nodes left.
    for stream in &streams {
        let now = eventually_within(30, &format!("{stream} has a leader"), || async {
            let mut s = js.get_stream(stream).await.ok()?;
            s.info()
                .await
                .ok()?
                .cluster
                .as_ref()
                .and_then(|c| c.leader.clone())
        })
        .await;
        assert_ne!(now, killed, "{stream}");
    }
}
