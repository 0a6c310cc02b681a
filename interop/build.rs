//! Generates the gRPC echo service that tests/grpc.rs and
//! examples/grpc_over_listener.rs serve over gopipe's in-memory network.
//!
//! tonic's manual builder: the service is described here in Rust and its
//! messages are hand-written prost structs in each file that includes the
//! generated code, so the build needs neither a .proto file nor `protoc`.
//! The code lands in `$OUT_DIR/gopipe.echo.Echo.rs` (modules `echo_client`
//! and `echo_server`), included with `tonic::include_proto!("gopipe.echo.Echo")`
//! in a module that defines `EchoRequest` and `EchoResponse`.

use tonic_build::manual::{Builder, Method, Service};

fn main() {
    let method = |name: &str, route: &str| {
        Method::builder()
            .name(name)
            .route_name(route)
            // Relative to the generated modules: the includer's messages.
            .input_type("super::EchoRequest")
            .output_type("super::EchoResponse")
            .codec_path("tonic_prost::ProstCodec")
    };
    let echo = Service::builder()
        .name("Echo")
        .package("gopipe.echo")
        // One request, one response.
        .method(method("unary_echo", "UnaryEcho").build())
        // A stream of requests, a stream of responses.
        .method(
            method("bidi_echo", "BidiEcho")
                .client_streaming()
                .server_streaming()
                .build(),
        )
        .build();
    Builder::new().compile(&[echo]);
    println!("cargo:rerun-if-changed=build.rs");
}
