//! `butterfly catalogue` as a user runs it.
