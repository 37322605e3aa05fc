using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Pacs.Rl.Tests")]
