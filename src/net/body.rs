//! Reading a request body within limits: a size cap checked against the declared length before
//! a byte is read and against the bytes as they arrive, a deadline that a steady sender keeps
//! extending (Apache's `mod_reqtimeout` rule: so many seconds, plus one second per so many
//! bytes received), and the server's stop.
//!
//! Nothing is allocated from what the request *says* it will send: the buffer grows with what
//! has arrived.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body;
use tokio::time::Instant;

use super::Stopping;
use crate::config::Limits;

/// What a body may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    pub max_bytes: u64,
    /// The deadline before the rate extends it.
    pub timeout: Duration,
    /// Bytes that buy one more second (0: no extension).
    pub min_rate: u64,
}

impl BodyLimits {
    /// The server's limits, with `max_bytes` as the cap (planes differ in what they accept).
    pub fn from_settings(limits: &Limits, max_bytes: u64) -> BodyLimits {
        BodyLimits {
            max_bytes,
            timeout: Duration::from_secs(limits.body_timeout_secs),
            min_rate: limits.min_body_rate,
        }
    }

    /// When a body that started at `start` and has delivered `received` bytes runs out of time.
    fn deadline(&self, start: Instant, received: u64) -> Instant {
        let earned = match self.min_rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(received as f64 / rate as f64),
        };
        start + self.timeout + earned
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(
        "the request body is larger than {limit} bytes{}",
        declared.map(|d| format!(" (it declares {d})")).unwrap_or_default()
    )]
    TooLarge { limit: u64, declared: Option<u64> },
    #[error(
        "the request body arrived too slowly ({received} bytes in {}s): a body has {}s, plus 1s for every {} bytes received",
        elapsed.as_secs(), limits.timeout.as_secs(), limits.min_rate
    )]
    TooSlow {
        received: u64,
        elapsed: Duration,
        limits: BodyLimits,
    },
    #[error("the request body broke off: {0}")]
    Broken(String),
    #[error("the server is stopping; retry in a moment")]
    Stopping,
}

impl BodyError {
    /// The HTTP status each plane answers with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken(_) => StatusCode::BAD_REQUEST,
            BodyError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A whole body within `limits`, in one buffer.
pub async fn read<B>(body: B, limits: BodyLimits, stop: Stopping) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    Paced::new(body, limits, stop)?.collect().await
}

/// A body read frame by frame within its limits.
pub struct Paced<B> {
    body: B,
    limits: BodyLimits,
    start: Instant,
    received: u64,
    stop: Stopping,
}

impl<B> Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    /// Refuses a body whose declared length is over the cap before reading any of it.
    pub fn new(body: B, limits: BodyLimits, stop: Stopping) -> Result<Paced<B>, BodyError> {
        let declared = body.size_hint().exact();
        if let Some(n) = declared
            && n > limits.max_bytes
        {
            return Err(BodyError::TooLarge {
                limit: limits.max_bytes,
                declared: Some(n),
            });
        }
        Ok(Paced {
            body,
            limits,
            start: Instant::now(),
            received: 0,
            stop,
        })
    }

    /// The next chunk of data; `None` at the end of the body.
    pub async fn next(&mut self) -> Option<Result<Bytes, BodyError>> {
        loop {
            let deadline = self.limits.deadline(self.start, self.received);
            let mut frame = std::pin::pin!(self.body.frame());
            // A frame that is already here (most bodies arrive with their headers) is taken
            // without arming the deadline's timer or the stop's waiter.
            let ready = std::future::poll_fn(|cx| Poll::Ready(frame.as_mut().poll(cx))).await;
            let frame = match ready {
                Poll::Ready(frame) => frame,
                Poll::Pending => tokio::select! {
                    biased;
                    frame = &mut frame => frame,
                    () = tokio::time::sleep_until(deadline) => {
                        return Some(Err(BodyError::TooSlow {
                            received: self.received,
                            elapsed: self.start.elapsed(),
                            limits: self.limits,
                        }));
                    }
                    () = self.stop.wait() => return Some(Err(BodyError::Stopping)),
                },
            };
            let data = match frame? {
                Ok(f) => match f.into_data() {
                    Ok(d) => d,
                    Err(_) => continue, // trailers
                },
                Err(e) => return Some(Err(BodyError::Broken(e.to_string()))),
            };
            self.received += data.len() as u64;
            if self.received > self.limits.max_bytes {
                return Some(Err(BodyError::TooLarge {
                    limit: self.limits.max_bytes,
                    declared: None,
                }));
            }
            return Some(Ok(data));
        }
    }

    /// The whole body in one buffer.
    pub async fn collect(mut self) -> Result<Bytes, BodyError> {
        let first = match self.next().await {
            None => return Ok(Bytes::new()),
            Some(chunk) => chunk?,
        };
        // A body in one frame (the common case for small requests) is used as it came.
        let Some(second) = self.next().await else {
            return Ok(first);
        };
        let mut all = BytesMut::from(first);
        all.extend_from_slice(&second?);
        while let Some(chunk) = self.next().await {
            all.extend_from_slice(&chunk?);
        }
        Ok(all.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;

    fn limits(max: u64, secs: u64, rate: u64) -> BodyLimits {
        BodyLimits {
            max_bytes: max,
            timeout: Duration::from_secs(secs),
            min_rate: rate,
        }
    }

    #[tokio::test]
    async fn declared_length_over_the_cap_is_refused_before_reading() {
        let (_tx, stop) = Stopping::channel();
        let body = Full::new(Bytes::from(vec![b'x'; 100]));
        let err = Paced::new(body, limits(10, 5, 0), stop).err().unwrap();
        assert!(
            matches!(
                err,
                BodyError::TooLarge {
                    declared: Some(100),
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_cut_at_the_deadline_and_a_steady_one_earns_time() {
        let (_tx, stop) = Stopping::channel();
        // One byte, then nothing: cut after the base timeout.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
        tx.send(Ok(Frame::data(Bytes::from_static(b"x"))))
            .await
            .unwrap();
        let body = StreamBody::new(tokio_stream(rx));
        let paced = Paced::new(body, limits(1 << 20, 2, 1000), stop.clone()).unwrap();
        let started = Instant::now();
        let err = paced.collect().await.unwrap_err();
        assert!(
            matches!(err, BodyError::TooSlow { received: 1, .. }),
            "{err}"
        );
        // 2 s, plus 1 ms earned by the byte.
        assert_eq!(started.elapsed().as_millis(), 2001);
        drop(tx);

        // 1000 bytes a second keeps the deadline moving: 5 s of sending is fine.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(8);
        tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let chunk = Bytes::from(vec![b'y'; 1000]);
                if tx.send(Ok(Frame::data(chunk))).await.is_err() {
                    return;
                }
            }
        });
        let body = StreamBody::new(tokio_stream(rx));
        let got = Paced::new(body, limits(1 << 20, 2, 1000), stop).unwrap();
        assert_eq!(got.collect().await.unwrap().len(), 5000);
    }

    #[tokio::test]
    async fn stop_ends_a_body_in_progress() {
        let (tx, stop) = Stopping::channel();
        let (_body_tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        let paced = Paced::new(StreamBody::new(tokio_stream(rx)), limits(100, 60, 0), stop);
        let reading = tokio::spawn(paced.unwrap().collect());
        tx.send(true).unwrap();
        let err = reading.await.unwrap().unwrap_err();
        assert!(matches!(err, BodyError::Stopping), "{err}");
    }

    #[tokio::test]
    async fn bytes_beyond_the_cap_are_refused_without_a_declared_length() {
        let (_tx, stop) = Stopping::channel();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        for _ in 0..3 {
            tx.send(Ok::<_, std::io::Error>(Frame::data(Bytes::from(vec![
                0u8;
                40
            ]))))
            .await
            .unwrap();
        }
        drop(tx);
        let paced = Paced::new(StreamBody::new(tokio_stream(rx)), limits(100, 60, 0), stop);
        let err = paced.unwrap().collect().await.unwrap_err();
        assert!(
            matches!(err, BodyError::TooLarge { declared: None, .. }),
            "{err}"
        );
    }

    /// An mpsc receiver as a stream of frames.
    fn tokio_stream<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Unpin {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
