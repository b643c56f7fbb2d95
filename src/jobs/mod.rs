//! Jobs (DESIGN.md `jobs`): the workers that take backups off the queue in the store and run
//! them (`worker`). The server runs workers in its own process; `butterfly worker` runs more
//! processes on the same database and data directory.

pub mod schedule;
pub mod scheduler;
pub mod worker;
