pub fn run_mirror_command(_a: &[String]) -> i32 {
    0
}
