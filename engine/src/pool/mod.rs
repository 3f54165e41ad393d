//! The tenant's numbers and who gets them: each number's status, the projects with their
//! sources, schedules and quotas, and the allocation that hands numbers to projects.

pub mod allocate;
pub mod groups;
pub mod number;
pub mod project;
pub mod status;
