// The dashboard client's entry: renders the page the URL names into #app.
import { render } from "preact";
import { DevPage } from "./pages/dev.js";
import { Overview } from "./pages/overview.js";
import { RunPage } from "./pages/run.js";
import { WorkflowPage } from "./pages/workflow.js";
import { href, useRoute } from "./router.js";
import { Layout } from "./ui.js";

function App() {
  const { route, search } = useRoute();
  switch (route.page) {
    case "overview":
      return <Overview search={search} />;
    case "run":
      return <RunPage key={route.id} id={route.id} />;
    case "workflow":
      return <WorkflowPage key={route.name} name={route.name} />;
    case "dev":
      return <DevPage />;
    default:
      return (
        <Layout title="Not found">
          <h1>Not found</h1>
          <p>
            Nothing here. <a href={href.overview()}>Back to the overview</a>.
          </p>
        </Layout>
      );
  }
}

const root = document.getElementById("app")!;
root.textContent = "";
render(<App />, root);
