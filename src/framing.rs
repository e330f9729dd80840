//! Line framing: newline-delimited JSON-RPC messages on a byte stream, the one framing both
//! of switchboard's pipe ends use (the client's stdin/stdout in [`crate::mcp::stdio`], each
//! downstream server's stdin/stdout in [`crate::server::link`]).
//!
//! Reading holds at most [`MAX_LINE`] bytes of a line, so a peer cannot make switchboard
//! buffer without bound; writing puts a whole line and flushes it under the writer's lock, so
//! lines never interleave.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

/// The longest line accepted; longer ones are refused (and skipped to their end).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line (without its newline); the last one may lack the newline.
    Read,
    /// A line longer than [`MAX_LINE`], consumed to its end and dropped.
    TooLong,
    /// The end of input.
    End,
}

/// Read the next newline-delimited line of `reader` into `line`, holding at most
/// [`MAX_LINE`] bytes of it: a peer cannot make switchboard buffer without bound.
pub async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    line: &mut Vec<u8>,
) -> std::io::Result<Line> {
    line.clear();
    let mut too_long = false;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::End,
                (false, false) => Line::Read,
            });
        }
        let (chunk, done) = match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => (&buffer[..end], end + 1),
            None => (buffer, buffer.len()),
        };
        let newline = done > chunk.len();
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(done);
        if newline {
            crate::awake::touch();
            return Ok(if too_long { Line::TooLong } else { Line::Read });
        }
    }
}

/// Write `text` as one whole line and flush it: the one way a message goes onto a
/// downstream server's stdin. The caller holds the writer's lock, so lines never interleave.
pub async fn put_line<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    mut text: Vec<u8>,
) -> std::io::Result<()> {
    text.push(b'\n');
    put_lines(writer, &text).await
}

/// Write `lines`, whole lines each ending in a newline, and flush them: what
/// [`put_line`] does for one, and switchboard's stdout for a burst of answers at once. The
/// caller holds the writer's lock.
pub async fn put_lines<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    lines: &[u8],
) -> std::io::Result<()> {
    writer.write_all(lines).await?;
    writer.flush().await
}
