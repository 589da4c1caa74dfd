//! sg-alloc: part of the sg scatter-gather workspace (not yet built).
#![no_std]
