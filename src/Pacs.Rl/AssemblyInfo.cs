using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Pacs.Rl.Tests")]
[assembly: InternalsVisibleTo("Pacs.Engine.Remote.Tests")]
[assembly: InternalsVisibleTo("Pacs.Engine.Tinker.Tests")]
