//! Streaming over a top-level JSON array, one entry at a time.
//!
//! Entries are deserialized one by one from a buffered reader through a
//! serde `Visitor`, handed to a callback and dropped, so memory stays flat
//! whatever the file's size. Errors name the entry at fault by its index.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{DeserializeOwned, Deserializer, Error as _, SeqAccess, Visitor};

use super::{open, DatasetError};

/// Call `f(index, entry)` for every entry of the JSON array in `path`.
pub(crate) fn for_each_entry<T, F>(path: &Path, f: F) -> Result<(), DatasetError>
where
    T: DeserializeOwned,
    F: FnMut(usize, T) -> Result<(), DatasetError>,
{
    let reader = open(path)?;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = State {
        f,
        next: 0,
        in_entry: false,
        failure: None,
    };
    let res = (&mut de).deserialize_seq(ArrayVisitor::<T, F> {
        state: &mut state,
        _t: PhantomData,
    });
    let res = res.and_then(|()| de.end());
    match res {
        Ok(()) => Ok(()),
        Err(_) if state.failure.is_some() => Err(state.failure.take().expect("checked")),
        Err(e) if e.is_io() => Err(DatasetError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }),
        Err(e) if state.in_entry => Err(DatasetError::Entry {
            path: path.to_path_buf(),
            index: state.next,
            reason: e.to_string(),
        }),
        Err(e) => Err(DatasetError::Malformed {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

struct State<F> {
    f: F,
    /// Index of the next entry to read.
    next: usize,
    /// An entry was being read when the error occurred.
    in_entry: bool,
    /// An error raised by the callback (wins over serde's).
    failure: Option<DatasetError>,
}

struct ArrayVisitor<'s, T, F> {
    state: &'s mut State<F>,
    _t: PhantomData<fn() -> T>,
}

impl<'de, T, F> Visitor<'de> for ArrayVisitor<'_, T, F>
where
    T: DeserializeOwned,
    F: FnMut(usize, T) -> Result<(), DatasetError>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of dataset entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let st = self.state;
        loop {
            st.in_entry = true;
            let item = seq.next_element::<T>()?;
            st.in_entry = false;
            let Some(item) = item else { return Ok(()) };
            if let Err(e) = (st.f)(st.next, item) {
                st.failure = Some(e);
                return Err(A::Error::custom("stopped by the entry handler"));
            }
            st.next += 1;
        }
    }
}
