[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Pacs.Models.Tests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("bf16_matvec")]
