[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Pacs.Models.Tests")]
