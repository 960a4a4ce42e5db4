// A reference kube-scheduler extender written the way most are written: net/http,
// encoding/json and the k8s.io/kube-scheduler/extender/v1 types, a mutex-guarded map as the
// cache. It implements the same filter and prioritize as spotguard-extender over the same
// state (loaded from a file the benchmark writes), so the benchmark compares the serving
// machinery, not the policy.
//
//	go build -o reference-extender . && ./reference-extender -state state.json -listen 127.0.0.1:0
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"sync"

	v1 "k8s.io/api/core/v1"
	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

type nodeState struct {
	Name   string  `json:"name"`
	Spot   bool    `json:"spot"`
	Risk   float64 `json:"risk"`
	Doomed bool    `json:"doomed"`
	Pool   int     `json:"pool"`
	Zone   int     `json:"zone"`
}

type appSpread struct {
	Total   int         `json:"total"`
	PerPool map[int]int `json:"perPool"`
	PerZone map[int]int `json:"perZone"`
}

type state struct {
	Nodes []nodeState          `json:"nodes"`
	Apps  map[string]appSpread `json:"apps"`
	index map[string]*nodeState
}

var (
	mu  sync.RWMutex
	st  state
	cap = 0.2
)

func riskScore(p float64) int64 {
	s := int64(math.Round(10 * (1 - p/cap)))
	if s < 0 {
		return 0
	}
	if s > 10 {
		return 10
	}
	return s
}

func names(args *extenderv1.ExtenderArgs) []string {
	if args.NodeNames != nil {
		return *args.NodeNames
	}
	out := []string{}
	if args.Nodes != nil {
		for _, n := range args.Nodes.Items {
			out = append(out, n.Name)
		}
	}
	return out
}

func filter(w http.ResponseWriter, r *http.Request) {
	var args extenderv1.ExtenderArgs
	if err := json.NewDecoder(r.Body).Decode(&args); err != nil || args.Pod == nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(extenderv1.ExtenderFilterResult{Error: fmt.Sprint("bad request: ", err)})
		return
	}
	driver := args.Pod.Labels["spark-role"] == "driver"
	result := extenderv1.ExtenderFilterResult{
		FailedNodes:                extenderv1.FailedNodesMap{},
		FailedAndUnresolvableNodes: extenderv1.FailedNodesMap{},
	}
	passed := []string{}
	mu.RLock()
	for _, name := range names(&args) {
		n, ok := st.index[name]
		switch {
		case !ok:
			passed = append(passed, name)
		case n.Doomed:
			result.FailedAndUnresolvableNodes[name] = "node has an active eviction notice"
		case driver && n.Spot:
			result.FailedAndUnresolvableNodes[name] = "Spark drivers are kept off spot nodes"
		default:
			passed = append(passed, name)
		}
	}
	mu.RUnlock()
	result.NodeNames = &passed
	if args.Nodes != nil {
		keep := map[string]bool{}
		for _, p := range passed {
			keep[p] = true
		}
		list := &v1.NodeList{}
		for _, n := range args.Nodes.Items {
			if keep[n.Name] {
				list.Items = append(list.Items, n)
			}
		}
		result.Nodes = list
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&result)
}

func prioritize(w http.ResponseWriter, r *http.Request) {
	var args extenderv1.ExtenderArgs
	if err := json.NewDecoder(r.Body).Decode(&args); err != nil || args.Pod == nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	executor := args.Pod.Labels["spark-role"] == "executor"
	list := extenderv1.HostPriorityList{}
	mu.RLock()
	app, hasApp := st.Apps[args.Pod.Labels["spark-app-selector"]]
	for _, name := range names(&args) {
		n, ok := st.index[name]
		score := int64(0)
		switch {
		case !executor || !ok || n.Doomed:
		case !n.Spot:
			score = 5
		default:
			score = riskScore(n.Risk)
			if hasApp && app.Total > 0 {
				crowd := (float64(app.PerPool[n.Pool]) + float64(app.PerZone[n.Zone])) / float64(app.Total) / 2
				score -= int64(math.Round(4 * crowd))
				if score < 0 {
					score = 0
				}
			}
		}
		list = append(list, extenderv1.HostPriority{Host: name, Score: score})
	}
	mu.RUnlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&list)
}

func main() {
	statePath := flag.String("state", "", "state file written by the benchmark")
	listen := flag.String("listen", "127.0.0.1:0", "address")
	flag.Parse()
	data, err := os.ReadFile(*statePath)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		log.Fatal(err)
	}
	st.index = map[string]*nodeState{}
	for i := range st.Nodes {
		st.index[st.Nodes[i].Name] = &st.Nodes[i]
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", l.Addr())
	os.Stdout.Sync()
	mux := http.NewServeMux()
	mux.HandleFunc("/filter", filter)
	mux.HandleFunc("/prioritize", prioritize)
	log.Fatal(http.Serve(l, mux))
}
