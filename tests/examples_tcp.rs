//! The two TCP examples (`examples/server.rs`, `examples/device.rs`) end to end, on their role
//! functions (`examples/roles/`, included here as modules: nothing is built twice and no
//! nested cargo runs). The server serves an ephemeral loopback port in a thread; the device
//! runs as a user would run the example several times.
//!
//! What SPEC §4 and §10 demand, checked over a real connection:
//! - a first run registers the key (record persisted), and signs: the signature verifies with
//!   our verifier and with `openssl dgst -verify` run with the exact arguments the device
//!   prints (the test FAILS if `openssl` is missing; CI installs it);
//! - a second run signs with the stored key, without registering again; its first answer is
//!   lost on the way, and the resend gets the byte-identical stored answer (the server logs it
//!   as resent: nothing evaluated or charged twice);
//! - a wrong PIN gets no signature and is counted by the server;
//! - a run that stops after persisting its message and before sending it leaves the exchange
//!   pending; the next run resends it first, its answer completes that earlier signature, and
//!   then it signs its own message;
//! - the server stops on the shutdown request and its thread ends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../examples/roles/device.rs"]
mod device_role;
#[path = "../examples/roles/framing.rs"]
mod framing;
#[path = "../examples/roles/server.rs"]
mod server_role;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use device_role::{DeviceConfig, Report, Signing};
use split_rsa::{KeySize, Outcome, verify};

/// A fresh scratch directory under cargo's per-target temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("examples-tcp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `openssl` with `args`: whether it printed "Verified OK" and succeeded.
fn openssl_verifies(args: &[String]) -> bool {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command line is required (CI installs it)");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

/// The signature of a run that must have signed `message`, checked by us and by OpenSSL on
/// the files the device wrote.
fn check_signed(report: &Report, out_dir: &Path, message: &[u8]) {
    let Signing::Signed(signed) = &report.result else {
        panic!("expected a signature, got {:?}", report.result)
    };
    let digest = signed.scheme.hash().digest(message);
    verify(
        &signed.public_key,
        signed.scheme,
        &digest,
        &signed.signature,
    )
    .unwrap();
    assert_eq!(std::fs::read(out_dir.join("message.txt")).unwrap(), message);
    assert_eq!(
        std::fs::read(out_dir.join("signature.bin")).unwrap(),
        signed.signature
    );
    assert!(
        openssl_verifies(&signed.openssl_args),
        "openssl {} refused",
        signed.openssl_args.join(" ")
    );
    // And OpenSSL refuses the signature on another message.
    std::fs::write(out_dir.join("message.txt"), b"another message").unwrap();
    assert!(!openssl_verifies(&signed.openssl_args));
    std::fs::write(out_dir.join("message.txt"), message).unwrap();
}

#[test]
fn device_and_server_over_tcp() {
    let server_dir = scratch("server");
    let device_dir = scratch("device");
    // 2048-bit halves (a 4096-bit composite): production sizes, the fastest to generate.
    let server = server_role::open(&server_dir, KeySize::BITS_2048).unwrap();
    let pinned = server.transport_public_key();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Mutex::new(Vec::<String>::new());
    let log_line = |line: &str| {
        println!("{line}");
        log.lock().unwrap().push(line.to_owned());
    };

    std::thread::scope(|scope| {
        // Bounded: a stray server stops by itself after this many requests.
        let serving = scope.spawn(|| server_role::serve(listener, &server, Some(200), &log_line));

        let config = |run: &str| DeviceConfig {
            record: device_dir.join("device-signing.record"),
            out_dir: device_dir.join(run),
            key_size: KeySize::BITS_2048,
            server_key: Some(pinned),
            ..DeviceConfig::new(addr, &device_dir)
        };

        // 1. Register and sign.
        let m1 = b"run 1: register, then sign".as_slice();
        let first = device_role::run(&config("run1"), m1).unwrap();
        assert!(first.registered && first.resolved.is_none() && !first.retried);
        assert_eq!(first.verification_code.len(), 4);
        check_signed(&first, &device_dir.join("run1"), m1);
        let Signing::Signed(signed) = &first.result else {
            unreachable!()
        };
        assert_eq!(signed.public_key.bits(), 4096);
        let public_key = signed.public_key.clone();

        // 2. The stored key signs again; the first answer is lost, the resend is answered
        //    from storage.
        let m2 = b"run 2: the stored key; the answer is lost once".as_slice();
        let second = device_role::run(
            &DeviceConfig {
                lose_first_answer: true,
                ..config("run2")
            },
            m2,
        )
        .unwrap();
        assert!(!second.registered && second.retried);
        assert_eq!(second.key_id, first.key_id);
        assert_eq!(second.resend_answer_identical, Some(true));
        check_signed(&second, &device_dir.join("run2"), m2);
        let Signing::Signed(signed) = &second.result else {
            unreachable!()
        };
        assert_eq!(signed.public_key, public_key);
        assert!(
            log.lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("resent from storage")),
            "the server must answer the resend from storage"
        );

        // 3. A wrong PIN: refused and counted, no signature, nothing written.
        let refused = device_role::run(
            &DeviceConfig {
                pin: "47193".into(),
                ..config("wrong-pin")
            },
            b"run 3: a mistyped PIN",
        )
        .unwrap();
        assert!(
            matches!(
                refused.result,
                Signing::Refused(Outcome::WrongPin {
                    attempts_left: 8,
                    locked_until: None
                })
            ),
            "{:?}",
            refused.result
        );
        assert!(!device_dir.join("wrong-pin/signature.bin").exists());

        // 4. A run stops after persisting its message, before sending it.
        let m4 = b"run 4: persisted, never sent".as_slice();
        let stopped = device_role::run(
            &DeviceConfig {
                stop_before_send: true,
                ..config("run4")
            },
            m4,
        )
        .unwrap();
        assert!(matches!(stopped.result, Signing::StoppedBeforeSend));

        // 5. The next run resolves it first (the server completes the earlier request), then
        //    signs its own message.
        let m5 = b"run 5: after the restart".as_slice();
        let fifth = device_role::run(&config("run5"), m5).unwrap();
        let Some(Outcome::Completed { signature }) = &fifth.resolved else {
            panic!("the pending exchange must complete: {:?}", fifth.resolved)
        };
        let scheme = server_role::SCHEME;
        verify(&public_key, scheme, &scheme.hash().digest(m4), signature).unwrap();
        check_signed(&fifth, &device_dir.join("run5"), m5);

        // The shutdown request stops the server; its thread ends by itself, even with an
        // idle client connected.
        let idle = std::net::TcpStream::connect(addr).unwrap();
        framing::Client::new(addr)
            .unwrap()
            .call(framing::Kind::Shutdown, &[])
            .unwrap();
        let stopping = std::time::Instant::now();
        let served = serving.join().unwrap().unwrap();
        assert!(served < 200, "stopped by the shutdown, not the limit");
        assert!(stopping.elapsed() < std::time::Duration::from_secs(10));
        drop(idle);
    });

    let log = log.into_inner().unwrap();
    assert!(
        log.last().unwrap().contains("Shutdown: stopping"),
        "{log:?}"
    );
    assert_eq!(log.iter().filter(|l| l.contains("Register:")).count(), 1);
    assert!(
        log.iter()
            .any(|l| l.contains("WrongPin { attempts_left: 8")),
        "{log:?}"
    );
    let _ = std::fs::remove_dir_all(&server_dir);
    let _ = std::fs::remove_dir_all(&device_dir);
}

/// The server listens on loopback only, and the device connects to loopback only.
#[test]
fn loopback_only() {
    let any = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let dir = scratch("loopback");
    let server = server_role::open(&dir, KeySize::BITS_2048).unwrap();
    let err = server_role::serve(any, &server, None, &|_| {}).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(framing::Client::new(([192, 0, 2, 1], 7878).into()).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
