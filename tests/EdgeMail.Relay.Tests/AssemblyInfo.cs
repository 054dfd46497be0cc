// The relay runs on Linux (x64, arm64); its tests use Unix file modes and sockets.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
