//! Where module output goes: WASI stdout/stderr and the `log` host function, line by line,
//! attributed to the module that wrote it.

use bytes::Bytes;
use parking_lot::Mutex;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_io::streams::{OutputStream, StreamResult};

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// WASI stdout.
    Stdout,
    /// WASI stderr.
    Stderr,
    /// The `sl.log` host function.
    Log,
}

/// Receives each complete line a module writes: `(module id, stream, line)`.
pub type OutputSink = Arc<dyn Fn(&str, Stream, &str) + Send + Sync>;

/// The default sink: `[module] line` on the Host's stdout (stderr lines on stderr).
pub fn print_sink() -> OutputSink {
    Arc::new(|module, stream, line| match stream {
        Stream::Stderr => eprintln!("[{module}] {line}"),
        _ => println!("[{module}] {line}"),
    })
}

/// A WASI output stream that splits bytes into lines and hands them to an [`OutputSink`].
#[derive(Clone)]
pub(crate) struct LineWriter {
    module: Arc<str>,
    stream: Stream,
    sink: OutputSink,
    partial: Arc<Mutex<Vec<u8>>>,
}

impl LineWriter {
    pub(crate) fn new(module: Arc<str>, stream: Stream, sink: OutputSink) -> Self {
        LineWriter { module, stream, sink, partial: Arc::default() }
    }

    /// Feed bytes written by the `log` host function (already one whole line).
    pub(crate) fn feed_raw(&self, line: &[u8], stream: Stream) {
        let text = String::from_utf8_lossy(line);
        (self.sink)(&self.module, stream, text.trim_end_matches(['\n', '\r']));
    }

    fn feed(&self, bytes: &[u8]) {
        let mut partial = self.partial.lock();
        partial.extend_from_slice(bytes);
        while let Some(pos) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            (self.sink)(&self.module, self.stream, text.trim_end_matches('\r'));
        }
        // A module that never writes a newline must not grow the Host's memory without bound.
        if partial.len() > 64 << 10 {
            let text = String::from_utf8_lossy(&partial).into_owned();
            partial.clear();
            (self.sink)(&self.module, self.stream, &text);
        }
    }
}

impl IsTerminal for LineWriter {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LineWriter {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl wasmtime_wasi_io::poll::Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.feed(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1 << 20)
    }
}

impl tokio::io::AsyncWrite for LineWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.feed(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
