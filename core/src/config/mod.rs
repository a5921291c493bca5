//! The option table (Apache directive and Envoy JSON key for every option) and value parsers.
