//! What the numbers tell: conversion by project × provider × geo × weekday, the dashboard,
//! and `explain`, which follows one number through every gate it meets.

pub mod conversion;
pub mod dashboard;
pub mod explain;
pub mod scorecard;
