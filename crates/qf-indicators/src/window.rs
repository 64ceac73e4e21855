//! A fixed-capacity ring of the most recent values, shared by the windowed indicators.
//!
//! `VecDeque` would do, but this one allocates exactly once, never grows, and hands back
//! the evicted value from `push`, which is the one thing every rolling update needs.

/// The last `capacity` values pushed, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Window<T = f64> {
    values: Box<[T]>,
    /// Where the next value goes; once the window is full this is also the oldest value.
    next: usize,
    len: usize,
}

impl<T: Copy + Default> Window<T> {
    /// An empty window holding at most `capacity` values. Callers validate `capacity > 0`.
    pub(crate) fn new(capacity: usize) -> Self {
        debug_assert!(
            capacity > 0,
            "callers reject zero periods before building a window"
        );
        Self {
            values: vec![T::default(); capacity].into_boxed_slice(),
            next: 0,
            len: 0,
        }
    }

    /// Appends `x`; when the window was already full, returns the value it displaced.
    #[inline]
    pub(crate) fn push(&mut self, x: T) -> Option<T> {
        let capacity = self.values.len();
        let evicted = if self.len == capacity {
            Some(self.values[self.next])
        } else {
            self.len += 1;
            None
        };
        self.values[self.next] = x;
        self.next += 1;
        if self.next == capacity {
            self.next = 0;
        }
        evicted
    }

    /// How many values the window holds now.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The most values the window can hold.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.values.len()
    }

    /// Whether the window holds `capacity` values.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.values.len()
    }

    /// Empties the window without giving back its storage.
    pub(crate) fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
    }

    /// The held values, oldest first. Only tests need to look inside.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        let capacity = self.values.len();
        let start = if self.len == capacity { self.next } else { 0 };
        (0..self.len).map(move |i| self.values[(start + i) % capacity])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_once_full() {
        let mut w = Window::new(3);
        assert_eq!(w.push(1.0), None);
        assert_eq!(w.push(2.0), None);
        assert!(!w.is_full());
        assert_eq!(w.push(3.0), None);
        assert!(w.is_full());
        assert_eq!(w.push(4.0), Some(1.0));
        assert_eq!(w.push(5.0), Some(2.0));
        assert_eq!(w.iter().collect::<Vec<_>>(), vec![3.0, 4.0, 5.0]);
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn capacity_one_always_evicts_the_previous_value() {
        let mut w = Window::new(1);
        assert_eq!(w.push(7.0), None);
        assert_eq!(w.push(8.0), Some(7.0));
        assert_eq!(w.push(9.0), Some(8.0));
    }

    #[test]
    fn clear_starts_over() {
        let mut w = Window::new(2);
        w.push(1.0);
        w.push(2.0);
        w.push(3.0);
        w.clear();
        assert_eq!(w.len(), 0);
        assert_eq!(w.push(10.0), None);
        assert_eq!(w.iter().collect::<Vec<_>>(), vec![10.0]);
    }
}
