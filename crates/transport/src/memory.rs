//! The in-memory backend: a bounded tokio channel of batches.

use tokio::sync::mpsc;

use crate::{Consumer, Delivery, Position, Producer, Record, TransportError};

/// Sending half of an in-memory stream. Cloneable: the stream ends when every
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct MemoryProducer<T> {
    tx: mpsc::Sender<Vec<Delivery<T>>>,
    next_offset: i64,
}

/// Receiving half of an in-memory stream.
#[derive(Debug)]
pub struct MemoryConsumer<T> {
    rx: mpsc::Receiver<Vec<Delivery<T>>>,
}

/// A bounded in-memory stream holding at most `capacity` batches.
pub fn memory_stream<T: Send>(capacity: usize) -> (MemoryProducer<T>, MemoryConsumer<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (MemoryProducer { tx, next_offset: 0 }, MemoryConsumer { rx })
}

impl<T: Send> Producer<T> for MemoryProducer<T> {
    async fn send(&mut self, batch: Vec<Record<T>>) -> Result<(), TransportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(batch.len());
        for r in batch {
            out.push(Delivery {
                value: r.value,
                position: Position {
                    partition: 0,
                    offset: self.next_offset,
                },
            });
            self.next_offset += 1;
        }
        self.tx
            .send(out)
            .await
            .map_err(|_| TransportError::Closed("memory"))
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

impl<T: Send> Consumer<T> for MemoryConsumer<T> {
    async fn recv(&mut self) -> Result<Option<Vec<Delivery<T>>>, TransportError> {
        Ok(self.rx.recv().await)
    }

    async fn ack(&mut self, _positions: &[Position]) -> Result<(), TransportError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backpressure_and_end_of_stream() {
        let (mut tx, mut rx) = memory_stream::<u32>(1);
        tx.send(vec![Record::new("a", 1), Record::new("b", 2)])
            .await
            .unwrap();
        // The channel holds one batch: a second send must wait for the consumer.
        let second = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            tx.send(vec![Record::new("c", 3)]),
        )
        .await;
        assert!(second.is_err(), "a full stream must block the producer");
        let b = rx.recv().await.unwrap().unwrap();
        assert_eq!(b.iter().map(|d| d.value).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(b[1].position.offset, 1);
        tx.send(vec![Record::new("c", 3)]).await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await.unwrap().unwrap()[0].value, 3);
        assert!(rx.recv().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn send_to_dropped_consumer_is_closed() {
        let (mut tx, rx) = memory_stream::<u32>(1);
        drop(rx);
        let e = tx.send(vec![Record::new("a", 1)]).await.unwrap_err();
        assert!(matches!(e, TransportError::Closed(_)));
    }
}
