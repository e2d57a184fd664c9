//! `neigh`: the std half of neigh. (Being built: see issues 4, 5, 6.)
pub mod ffi;
pub mod mirror;
pub mod netlink;
pub mod region;
pub mod sys;
pub mod workspace;
