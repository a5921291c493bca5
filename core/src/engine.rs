//! `Engine::decide`: order of methods, fallbacks, and what to answer.
