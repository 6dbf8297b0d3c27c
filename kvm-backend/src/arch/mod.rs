//! Architecture support: how an x86_64 vCPU is put in the state a boot protocol expects.

pub mod x86_64;
