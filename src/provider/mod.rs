//! Identity providers Butterfly talks to. Okta now; others come through the same shape later
//! (DESIGN.md), so nothing here claims them yet.

pub mod okta;
